"""SentencePiece model protos: loading them, the piece type of ordinary pieces, the word-boundary mark."""
from sentencepiece import sentencepiece_model_pb2 as pb

NORMAL = pb.ModelProto.SentencePiece.NORMAL
SPACE = "\u2581"   # SentencePiece's word-boundary mark at the start of a piece


def load_proto(path) -> pb.ModelProto:
    proto = pb.ModelProto()
    with open(path, "rb") as handle:
        proto.ParseFromString(handle.read())
    return proto
