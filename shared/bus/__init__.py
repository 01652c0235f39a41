"""The event bus port: Pub/Sub in the cloud, an in-process bus on a laptop."""
