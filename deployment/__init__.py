"""The Python half of deploy.sh, standard library only.

`manifest` says where each setting comes from at deploy time and which functions get
it; `plan` answers what deploy.sh asks of it and of the settings' declarations
(`factoryops.config`, `factoryops.store`); `google_apis` makes the REST calls gcloud
has no command for. deploy.sh runs them as `python3 -m deployment.<module>` with the
checkout and its `lib` on PYTHONPATH. None is part of a function's bundle.
"""
