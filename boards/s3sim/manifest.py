# Frozen into the s3sim firmware: the llm package from <repo>/app/llm
# (paths are relative to this directory).
package("llm", base_path="../../app")
