"""ROMFS images: data aligned for in-place reads, mounted on the host firmware."""
from host import firmware, romfs


def test_romfs_image_aligns_data_and_mounts_on_unix(tmp_path, llm_files, s260):
    img = str(tmp_path / "m.romfs")
    romfs.write_image(img, [llm_files[1], s260[1]])
    out = firmware.run_code("""
import vfs, llm, json, os, uctypes
data = open(%r, 'rb').read()
vfs.mount(vfs.VfsRom(data), '/rom')
names = sorted(os.listdir('/rom'))
align = [uctypes.addressof(memoryview(open('/rom/' + n, 'rb'))) %% 16 for n in names]
m = llm.load('/rom/s260_int8.llm', kv='int8', ctx=128)
text = m.generate('Once upon a time', steps=48, temperature=0)
print(json.dumps([names, align, text, m.info()['weights_where']]))
""" % img)
    names, align, text, where = out
    assert names == ["s260_int8.llm", "tok512.bin"]
    assert align == [0, 0]
    assert where == "mapped"
    direct = firmware.run_code("""
import llm, json
m = llm.load(%r, kv='int8', ctx=128)
print(json.dumps(m.generate('Once upon a time', steps=48, temperature=0)))
""" % llm_files[1])
    assert text == direct


def test_romfs_padding_for_every_offset():
    for name_len in range(1, 40):
        for size in (0, 1, 5, 17):
            # Marker bytes that no record header contains.
            img = romfs.build([("a" * name_len, b"\xee" * size), ("b.llm", b"\xdd" * 33)])
            assert len(img) % 2 == 0
            for payload in (b"\xee" * size, b"\xdd" * 33):
                if payload:
                    assert img.index(payload) % 16 == 0
