"""PURE assessment: what the outputs of a probe say about services on a host.

The second half of every state read (STYLE habit 2, pyinfra's facts): `svcctl.ops` builds
the commands and runs them on the host; the functions here take their outputs as text and
return model data, and run no process. `service` judges audit's findings (with
`placement` for the plists on disk, `release` for a job that runs another release than
`current`, and `holder` for the guard lock's record), `drift` lines diff's three sides
up, `exits` reads what exit statuses say about the host.

Import from the modules: a command loads only the assessment it needs.
"""
