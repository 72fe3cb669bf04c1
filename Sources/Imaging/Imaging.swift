// Image operations shared by the stages.
