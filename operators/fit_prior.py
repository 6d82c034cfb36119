"""Operator: fit a class-conditional diffusion prior on the current view's train split."""

import fiftyone.operators as foo
import fiftyone.operators.types as types

from fiftyone_dsco import names

from ._common import (delegation_config, delegation_notice, execute, finish, form,
                      label_field_input, progress_callback, target_input)

AUTO = "auto"


class FitPrior(foo.Operator):
    @property
    def config(self):
        return delegation_config("fit_prior", "DsCo: fit prior",
                                 "Train a class-conditional UNet prior until its samples are "
                                 "recognisable (minutes to hours on CPU)", icon="model_training")

    def resolve_input(self, ctx):
        inputs = types.Object()
        target = target_input(inputs, ctx)
        if target is None or not label_field_input(inputs, ctx, target):
            return form(inputs, "Fit a diffusion prior")
        delegation_notice(inputs)
        inputs.str("name", default=f"{ctx.dataset.name}" if ctx.dataset else None, required=True,
                   label="Prior name", description="Saved under $DSCO_HOME/priors/<name>")
        inputs.enum("preset", [AUTO] + list(names.PRIOR_PRESETS), default=AUTO,
                    label="UNet size", description="auto: by image size x channels "
                    "(tiny up to 32 px grey, small up to 64 px RGB, else base)")
        inputs.int("steps", label="Step cap (optional)", min=1,
                   description="Default: 3000 at >= 24 px (~30 min on 2 CPU cores), else 2000. "
                               "The fit stops earlier once recognisability plateaus")
        inputs.int("more_steps", label="More steps (optional)", min=1,
                   description="Continue the prior of this name exactly this many more steps")
        inputs.int("patience", default=2, min=0, label="Patience (checkpoints)",
                   description="Stop after this many checkpoints without a gain in "
                               "recognisability (0: run to the step cap)")
        inputs.int("image_size", label="Image size (optional)", min=16)
        inputs.bool("overwrite", default=False, label="Retrain if a different prior has this name")
        return form(inputs, "Fit a diffusion prior")

    def execute(self, ctx):
        from fiftyone_dsco.priors.fit import fit_prior, quality_warning

        p = ctx.params
        preset = p.get("preset") if p.get("preset") != AUTO else None
        prior = fit_prior(ctx.target_view(), p["label_field"], name=p["name"], steps=p.get("steps"),
                          more_steps=p.get("more_steps"), preset=preset,
                          patience=p.get("patience", 2), image_size=p.get("image_size"),
                          overwrite=bool(p.get("overwrite")),
                          progress=progress_callback(ctx, "Prior fit"))
        t, rec = prior.card.training, prior.card.recognisability.get("overall")
        warning = quality_warning(prior.card, prior.path)
        finish(ctx, message=f"Prior '{p['name']}' saved at {prior.path}"
                            + (" (some classes are weak: see the output)" if warning else ""))
        return {"prior": prior.path, "recognisability": rec, "seconds": t.get("seconds"),
                "steps": t.get("steps_done"), "stop_reason": t.get("stop_reason"),
                "warning": warning}

    def resolve_output(self, ctx):
        outputs = types.Object()
        outputs.str("prior", label="Saved at")
        outputs.float("recognisability", label="Recognisability (real-data classifier accuracy)")
        outputs.float("seconds", label="Training seconds")
        outputs.int("steps", label="Steps done")
        outputs.str("stop_reason", label="Stopped because of (plateau or steps)")
        outputs.str("warning", label="Weak classes")
        return types.Property(outputs)

    def __call__(self, view, label_field, name, steps=None, image_size=None, overwrite=False,
                 preset=None, more_steps=None, patience=2, delegate=False,
                 delegation_target=None):
        """Fit (or continue) a prior on the train split of ``view`` (a dataset or a view)."""
        params = dict(label_field=label_field, name=name, steps=steps, image_size=image_size,
                      overwrite=overwrite, preset=preset or AUTO, more_steps=more_steps,
                      patience=patience)
        return execute(self.config.name, view, params, delegate, delegation_target)
