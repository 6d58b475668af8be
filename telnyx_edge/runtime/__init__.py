"""The local runtime: ingress, placement, storage engine, alarms and isolate supervision."""
