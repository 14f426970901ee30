EISDIR: int

def printable(path: str) -> str:
    """path as printable ASCII: MicroPython can neither print nor open a str
    that is not valid UTF-8, which a command-line argument can be."""
def file_size(path: str) -> int: ...
def open_buffer(path: str) -> tuple:
    '''Return (buffer, where) for the whole file at path.

    where is "mapped" when the bytes stay outside the heap: a memory map of a
    host file on the unix firmware, or the file\'s bytes in place on a ROMFS
    mount (flash on the chip).  Otherwise the file is read into the heap.
    '''
