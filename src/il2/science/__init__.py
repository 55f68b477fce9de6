"""Outcome analytics: response rates, survival, toxicity, use of beds and vials, and figures.

numpy, scipy and lifelines; may use `il2.domain` and `il2.rules`, never storage or the web.
Estimators follow the scikit-learn contract (settings in the constructor, `fit` returns self,
fitted attributes end in `_`); plots live in `plots` and only draw what `stats` computed.
"""
