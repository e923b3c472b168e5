"""sqlite2neon: a migration runbook from an app's SQLite file into Neon or any PostgreSQL 14+.

The runbook's steps, one module each: `preflight`, `source` (inspect), `plan`, `load`, `verify`.
"""

from .config import Params
from .errors import RunbookError

__all__ = ["Params", "RunbookError", "__version__"]
__version__ = "0.1.0"
