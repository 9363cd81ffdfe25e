"""The shared package behind the factoryopsai.com Cloud Functions and `siteadmin`.

google.cloud, google.auth and requests are imported inside the functions that use them,
never at a module's top, so that a cold start pays only for what its request needs; a
type checker sees them under `if TYPE_CHECKING:`.
"""
