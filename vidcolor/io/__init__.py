"""Reading and writing media files: probing, streaming decode of luma, encode with copied streams."""
