"""Classification scores, their mean and spread over seeds, and the majority-class baseline."""
import statistics

METRICS = ("accuracy", "macro_f1", "weighted_f1")


def scores(gold: list, predicted: list, labels: list) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": accuracy_score(gold, predicted),
            "macro_f1": f1_score(gold, predicted, labels=labels, average="macro", zero_division=0),
            "weighted_f1": f1_score(gold, predicted, labels=labels, average="weighted", zero_division=0)}


def aggregate(runs: list) -> dict:
    """Mean and standard deviation over seeds of every metric."""
    return {metric: {"mean": statistics.fmean(r[metric] for r in runs),
                     "std": statistics.stdev(r[metric] for r in runs) if len(runs) > 1 else 0.0}
            for metric in METRICS}


def majority_baseline(train, test, labels: list) -> dict:
    """Scores of always predicting the training set's most frequent label (ties: the first in order)."""
    most = max(labels, key=lambda label: (train.labels.count(label), -labels.index(label)))
    return {"label": most, **scores(list(test.labels), [most] * len(test), labels)}


def learned(model: dict, majority: float) -> bool:
    """Above the majority class by more than the spread over seeds ({mean, std} of the metric)."""
    return model["mean"] - majority > model["std"]


def unseen_scores(train, test, indices: list, predictions: list, labels: list) -> dict:
    """Scores on the test items at `indices` only (those not in the training split), for every
    seed's `predictions` of the whole test: {"items", "aggregate", "majority_baseline"}."""
    from eval.datasets import subset

    part = subset(test, indices)
    runs = [scores(list(part.labels), [predicted[i] for i in indices], labels) for predicted in predictions] \
        if indices else []
    return {"items": len(indices), "aggregate": aggregate(runs) if runs else None,
            "majority_baseline": majority_baseline(train, part, labels) if indices else None}
