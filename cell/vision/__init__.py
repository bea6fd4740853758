"""The camera path: frames to body and hand landmarks (MediaPipe with the models in its wheel)."""
