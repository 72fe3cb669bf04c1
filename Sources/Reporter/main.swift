import Fleet
print("Reporter: not built yet")
