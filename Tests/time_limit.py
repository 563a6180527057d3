"""A time limit for each test of the Python suites, so that one that waits forever (a process
that never prints the line it reads for, a request never answered, a browser that never
replies to its driver: selenium 4.8 waits on it without a limit) fails by itself with where it
waited, and the suite goes on, instead of holding CI until its own limit kills everything with
nothing said.

Past the limit, the stack of every thread is printed and the test's main thread gets an
Overrun where it waits, so its `finally` blocks stop what it started; if that clean-up
waits forever too, it gets another Overrun after a grace period. The limit covers a
class's set-up and tear-down as well (setUpClass, tearDownClass).
"""
import faulthandler
import signal
import sys
import unittest

GRACE = 120


class Overrun(Exception):
    """A test ran over its limit. Not a TimeoutError: that is an OSError, which urllib3 (under
    selenium) takes for a socket's read timeout and retries."""


def limit_each_test(seconds):
    """Every test (and every class's set-up and tear-down) from now on gets at most `seconds`."""

    def limited(what, call):
        def expire(signum, frame):
            print(f"\n{what} ran over {seconds} s; where each thread was waiting:", file=sys.stderr, flush=True)
            faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
            signal.alarm(GRACE)  # for its clean-up, should that wait forever too
            raise Overrun(f"{what} ran over {seconds} s (the stacks above show where it waited)")

        previous = signal.signal(signal.SIGALRM, expire)
        signal.alarm(seconds)
        try:
            return call()
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)

    run = unittest.TestCase.run

    def run_limited(self, result=None):
        return limited(self.id(), lambda: run(self, result))

    unittest.TestCase.run = run_limited

    # A class's setUpClass and tearDownClass run from the suite, outside TestCase.run.
    set_up, tear_down = unittest.TestSuite._handleClassSetUp, unittest.TestSuite._tearDownPreviousClass

    def set_up_limited(self, test, result):
        return limited(f"{type(test).__name__}.setUpClass", lambda: set_up(self, test, result))

    def tear_down_limited(self, test, result):
        return limited("the previous class's tearDownClass", lambda: tear_down(self, test, result))

    unittest.TestSuite._handleClassSetUp = set_up_limited
    unittest.TestSuite._tearDownPreviousClass = tear_down_limited
