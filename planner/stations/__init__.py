"""Station sizing (measure 10): charging, hydrogen and PV-storage stations sized from the demand they serve."""
