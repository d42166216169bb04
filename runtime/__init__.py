"""What every PaymentKit process needs around the domain: its settings (read once from the
environment), its JSON log lines, its Prometheus metrics and the table of its jobs. Above
`domain/`, below `api/` and `workers/`; the `paymentkit` command line sits on top of them all."""
