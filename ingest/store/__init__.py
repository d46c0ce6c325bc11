"""Point sinks: one data model (ingest.store.model), several writers behind the PointSink port."""
