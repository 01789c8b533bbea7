"""Heavy clients (HTTP, MySQL, PostgreSQL, DNS) shared by several checks: the only place
besides a function body where requests, pymysql, psycopg or dnspython may be used.

A module here may import its library at module level, since it is itself only ever
imported inside the function of a check that needs it; the checks and ``checks/core``
may not (ruff TID253, ``banned-module-level-imports`` in pyproject.toml). Empty until the
first network service check (check_url, check_mysql …) brings its client; pySMART, used
by check_smart alone, stays beside it as ``storage/_pysmart.py``.
"""
