"""Handing a mix to a DAW: an Ardour session with every decision set, and printed stems.

Each effect declares, as data (:attr:`console.effect.Effect.ardour`), how its
parameters become Ardour controls; this package reads those declarations through
the effect objects and never names a plugin package. Modules: ``mapping`` (the
declaration types), ``ardour_controls`` (Ardour's own fader, trim and panner laws),
``plan`` (settings to controls, per track), ``ardour_session`` (the session XML),
``printed`` (the audio), ``readme`` (the decision list), ``folder`` (the export
folder's safety), ``ardour_tools`` (Ardour's headless exporter), ``compare`` (two
renders side by side), ``exporter`` (all of it).
"""
