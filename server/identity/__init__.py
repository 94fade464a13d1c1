"""Who is calling: accounts, roles, tokens, and the one place where data scope is decided."""
