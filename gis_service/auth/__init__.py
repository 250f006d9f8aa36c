"""Who is calling and what they may do: principals, API keys, OIDC tokens, grants, database roles.

``keys`` and ``tokens`` verify credentials, ``principal`` holds the decision (pure), ``store`` reads the
grant tables on the request path, ``admin`` changes them (CLI), ``dependency`` wires it into FastAPI and
``dbroles`` creates the database roles that row-level security is written against.
"""
