//! The raffle's life as the auditor replays it: software identities, the
//! events digests (GLI-31 5.6.2: ranges never overlap), creation once,
//! configuration changes only while a draft (2.2.3) and against the
//! current configuration, opening within the sales window (2.2.2), and
//! closing (2.6.2).

use super::*;
use raffle_core::entry::{
    EventsDigest, RaffleClosed, RaffleCreated, RaffleOpened, RaffleUpdated, SoftwareStarted,
};

impl Audit {
    pub(super) fn software_started(
        &mut self,
        _at: &At<'_>,
        e: &SoftwareStarted,
    ) -> Result<(), Box<Violation>> {
        let id = (
            e.program.clone(),
            e.version.clone(),
            hex::encode(e.sha256.0),
        );
        if !self.software.contains(&id) {
            self.software.push(id);
        }
        Ok(())
    }

    pub(super) fn events_digest(
        &mut self,
        at: &At<'_>,
        e: &EventsDigest,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        if e.first.0 <= self.last_event {
            return Err(v(
                "GLI-31 5.6.2",
                format!(
                    "events.digest starts at event {}, not after event {}, the last one anchored",
                    e.first.0, self.last_event
                ),
            ));
        }
        self.last_event = e.last.0;
        self.event_digests += 1;
        self.events_anchored = self.events_anchored.saturating_add(e.count.0);
        Ok(())
    }

    pub(super) fn raffle_created(
        &mut self,
        at: &At<'_>,
        e: &RaffleCreated,
    ) -> Result<(), Box<Violation>> {
        let v = |section: &'static str, message: String| at.v(section, message);
        if self.raffles.contains_key(e.raffle.as_str())
            || self.settled.contains_key(e.raffle.as_str())
        {
            return Err(v("lifecycle", "the raffle is created a second time".into()));
        }
        self.raffles.insert(
            e.raffle.to_string(),
            Raffle::new(&e.raffle, e.config.clone()),
        );
        Ok(())
    }

    pub(super) fn raffle_updated(
        &mut self,
        at: &At<'_>,
        e: &RaffleUpdated,
    ) -> Result<(), Box<Violation>> {
        let index = at.index;
        let v = |section: &'static str, message: String| at.v(section, message);
        let r = self.raffle(index, &e.raffle)?;
        if r.status != Status::Draft {
            return Err(v(
                "GLI-31 2.2.3",
                "the configuration changed after the raffle opened".into(),
            ));
        }
        if r.config != e.old {
            return Err(v(
                "GLI-31 5.2.4",
                "the update's old configuration is not the raffle's current one".into(),
            ));
        }
        let summary_status = r.status;
        *r = Raffle::new(&e.raffle, e.new.clone());
        r.status = summary_status;
        Ok(())
    }

    pub(super) fn raffle_opened(
        &mut self,
        at: &At<'_>,
        e: &RaffleOpened,
    ) -> Result<(), Box<Violation>> {
        let index = at.index;
        let time = at.time;
        let v = |section: &'static str, message: String| at.v(section, message);
        let r = self.raffle(index, &e.raffle)?;
        if r.status != Status::Draft {
            return Err(v(
                "lifecycle",
                format!("raffle.opened for a raffle that is {:?}", r.status),
            ));
        }
        if time >= r.config.sales_end {
            return Err(v(
                "GLI-31 2.2.2",
                format!(
                    "opened at {time}, after its sales end {}",
                    r.config.sales_end
                ),
            ));
        }
        r.status = Status::Open;
        Ok(())
    }

    pub(super) fn raffle_closed(
        &mut self,
        at: &At<'_>,
        e: &RaffleClosed,
    ) -> Result<(), Box<Violation>> {
        let index = at.index;
        let time = at.time;
        let v = |section: &'static str, message: String| at.v(section, message);
        let r = self.raffle(index, &e.raffle)?;
        if r.status != Status::Open {
            return Err(v(
                "lifecycle",
                format!("raffle.closed for a raffle that is {:?}", r.status),
            ));
        }
        if e.reason == CloseReason::EndTime && time < r.config.sales_end {
            return Err(v(
                "GLI-31 2.6.2",
                format!(
                    "closed for its end time at {time}, before the end time {}",
                    r.config.sales_end
                ),
            ));
        }
        r.status = Status::Closed;
        r.closed_at = Some(time);
        Ok(())
    }
}
