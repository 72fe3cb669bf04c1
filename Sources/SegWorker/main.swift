import Fleet
print("SegWorker: not built yet")
