"""The benchmark harness (`make bench`): seeds a scratch database, runs Quill and its ceilings
under wrk, and prints one table. Not part of the app or of `make test`."""
