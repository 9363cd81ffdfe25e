"""The shared package behind the factoryopsai.com Cloud Functions and `siteadmin`."""
