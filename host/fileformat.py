"""The file formats' facts, shared with the device: app/llm/fileformat.py.

Loaded from its file rather than as part of the llm package, whose
__init__ imports the _llm C module that CPython does not have.
"""
import importlib.util
import os

_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app", "llm", "fileformat.py")
_spec = importlib.util.spec_from_file_location("llm_fileformat", _PATH)
_module = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_module)

CONFIG_NAMES = _module.CONFIG_NAMES
LAYER_TENSORS = _module.LAYER_TENSORS
F32, Q8 = _module.F32, _module.Q8
V0_HEADER_SIZE = _module.V0_HEADER_SIZE
V2_MAGIC = _module.V2_MAGIC
MAGIC = _module.MAGIC
VERSION = _module.VERSION
HEADER_SIZE = _module.HEADER_SIZE
HEADER_FORMAT = _module.HEADER_FORMAT
TABLE_ENTRY_SIZE = _module.TABLE_ENTRY_SIZE
ALIGN = _module.ALIGN
FLAG_SHARED_CLASSIFIER = _module.FLAG_SHARED_CLASSIFIER
n_tensors = _module.n_tensors
