"""dj-stripe's tables for the suite's databases, in one step (odiadev/settings/test.py names this package as
dj-stripe's migrations).

dj-stripe's own migrations spend 45-60 s of CPU on every new database of a 2-core machine: its 0002 is 514
RemoveField operations, and Django clones the whole project state for each. They end where its models are, so this
package's one migration builds that end state directly from the installed models: the same tables, columns,
constraints and indexes (compared on PostgreSQL against a database dj-stripe's migrations built). Deployments,
`make run` included, run dj-stripe's own migrations."""
