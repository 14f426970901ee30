# Freeze the llm package into the host firmware.
package("llm", base_path="../../app")
