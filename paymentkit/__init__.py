"""Process-level plumbing: settings, local servers, and the `paymentkit` command line."""
