"""What stands in for the cloud locally: Azurite, the local Functions host, the simulators."""
