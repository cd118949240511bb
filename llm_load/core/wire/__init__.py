"""The wire format of OpenAI-compatible APIs: SSE decoding, request bodies, stream
accumulation, error bodies, endpoint URLs."""
