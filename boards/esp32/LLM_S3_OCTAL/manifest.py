# MicroPython's default esp32 modules, plus the llm package from this repo's app/.
include("$(PORT_DIR)/boards/manifest.py")
package("llm", base_path="$(BOARD_DIR)/../../../app")
