"""Real servers started by the tests on loopback, each in its own temporary directory.

One module per server; each gives a pytest fixture that starts the server on a free port,
waits until it answers, yields what a test needs to reach it, and stops it.
"""
