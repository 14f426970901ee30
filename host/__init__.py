"""Host-side tools (CPython + numpy) for the tiny-LLM MicroPython runtime.

- host.llama2: read/write llama2.c checkpoint and tokenizer files, make small random ones.
- host.reference: numpy float32 reference of llama2.c's run.c (forward pass, sampler, tokenizer, generate loop).
"""
