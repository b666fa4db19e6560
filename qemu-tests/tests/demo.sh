# `make demo`, run as a scenario, so that `make test` fails when the demo
# does (it once broke without any test noticing).
exec bash demo.sh
