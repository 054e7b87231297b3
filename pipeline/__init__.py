"""CINO pipeline: `luigi --module pipeline BuildCINO --lang bo,mn,ug`.

Importing the package registers every Luigi task. The corpus logic lives in
`pipeline.text` (no luigi); the tasks in `pipeline.tasks` are thin wrappers around it.
"""
from pipeline.tasks.build import BuildCINO
from pipeline.tasks.corpus import Clean, Dedup, IdentifyLanguage, Ingest, Split, TrainLangID
from pipeline.tasks.export import ExportHF
from pipeline.tasks.report import CorpusReport, TokenizerReport
from pipeline.tasks.training import BinarizeLanguage, ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import (ExternalBase, InitCheckpoint, MergeVocabulary, PruneVocabulary, StandInBase,
                                  TrainScriptTokenizer)

__all__ = ["BinarizeLanguage", "BuildCINO", "Clean", "ContinuePretraining", "CorpusReport", "Dedup", "ExportHF",
           "ExternalBase",
           "IdentifyLanguage", "Ingest", "InitCheckpoint", "MergeVocabulary", "PruneVocabulary", "SamplingPlan", "Split",
           "StandInBase", "TokenizerReport", "TrainLangID", "TrainScriptTokenizer"]
