import Fleet
print("ClsWorker: not built yet")
