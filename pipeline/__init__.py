"""CINO pipeline: `luigi --module pipeline BuildCINO --lang bo,mn,ug`.

Importing the package registers every Luigi task. The corpus logic lives in
`corpus` (no luigi); the tasks in `pipeline.tasks` are thin wrappers around it.
"""
from pipeline.exit_status import check_target_at_exit
from pipeline.tasks.build import BuildCINO
from pipeline.tasks.corpus import Clean, Decontaminate, Dedup, IdentifyLanguage, Ingest, LangIDReport, Split, TrainLangID
from pipeline.tasks.evaluate import BaselineClassification, EvaluateClassification, EvaluateMLM, EvaluationReport
from pipeline.tasks.export import ExportHF
from pipeline.tasks.package import PackageModel
from pipeline.tasks.report import CorpusReport, TokenizerReport
from pipeline.tasks.smaller import DistillStudent, PruneForLanguage
from pipeline.tasks.smaller_report import SmallerModels
from pipeline.tasks.training import BinarizeLanguage, ContinuePretraining, SamplingPlan
from pipeline.tasks.vocab import (ExternalBase, InitCheckpoint, MergeVocabulary, PruneVocabulary, RealSizeBase,
                                  StandInBase, TrainScriptTokenizer)

check_target_at_exit()

__all__ = ["BaselineClassification", "BinarizeLanguage", "BuildCINO", "Clean", "ContinuePretraining", "CorpusReport",
           "Decontaminate", "Dedup", "DistillStudent", "EvaluateClassification", "EvaluateMLM", "EvaluationReport", "ExportHF",
           "ExternalBase", "IdentifyLanguage", "Ingest", "InitCheckpoint", "LangIDReport", "MergeVocabulary", "PackageModel",
           "PruneForLanguage", "PruneVocabulary", "RealSizeBase", "SamplingPlan", "SmallerModels", "Split",
           "StandInBase", "TokenizerReport", "TrainLangID", "TrainScriptTokenizer"]
