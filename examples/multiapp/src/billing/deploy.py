"""Deploy entry point of the billing App: ``modal deploy src/billing/deploy.py``.

It imports the invoices module; invoices imports payments at module level, so payments'
functions are deployed too. refunds.py is imported only inside a function: not deployed.
"""

import billing.invoices  # noqa: F401
from billing.common import app  # noqa: F401  (the App this deploys)
