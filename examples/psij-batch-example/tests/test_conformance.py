from psij.conformance import ConformanceSuite


class TestToyBatchExecutor(ConformanceSuite):
    executor = 'toybatch'
