import CDicom
