"""Operations: the only place that sequences effects (audit, deploy, adopt)."""
