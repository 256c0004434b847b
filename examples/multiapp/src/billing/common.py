"""The billing App, shared by the billing modules."""

import modal

app = modal.App("billing")
