print("snapshot")
