"""An example third-party batch executor: ``toybatch``, on the toy scheduler ``toyq``."""
