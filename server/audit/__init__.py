"""The audit log (审计日志): who did what to which record, when, from where."""
