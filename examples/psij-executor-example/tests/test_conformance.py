from psij.conformance import ConformanceSuite


class TestExampleExecutor(ConformanceSuite):
    executor = 'example'
