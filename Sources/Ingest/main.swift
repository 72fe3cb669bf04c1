import Fleet
print("Ingest: not built yet")
