//! The unit's two languages, English and French: each text is written in
//! English where it is used and translated here.

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// `en` in this language.
    pub fn t(self, en: &'static str) -> &'static str {
        match self {
            Lang::En => en,
            Lang::Fr => FRENCH.iter().find(|(e, _)| *e == en).map_or(en, |(_, f)| f),
        }
    }
}

const FRENCH: &[(&str, &str)] = &[
    ("REPRINT", "RÉIMPRESSION"),
    ("Licence", "Licence"),
    ("Raffle", "Tirage"),
    ("Draw number", "Numéro de tirage"),
    ("Draw numbers", "Numéros de tirage"),
    ("Issued", "Émis"),
    ("Sales unit", "Terminal de vente"),
    ("Sale", "Vente"),
    ("Operator", "Opérateur"),
    ("Price", "Prix"),
    ("cash", "comptant"),
    ("card", "carte"),
    ("Validation number", "Numéro de validation"),
    (
        "Keep this ticket: it is needed to claim a prize.",
        "Conservez ce billet : il est requis pour réclamer un prix.",
    ),
    ("Signed sale record", "Relevé de vente signé"),
    (
        "Check it in the public log.",
        "Vérifiez-le dans le registre public.",
    ),
    ("Sign in", "Se connecter"),
    ("Sign out", "Se déconnecter"),
    ("Staff id", "Identifiant"),
    ("PIN", "NIP"),
    ("Sell", "Vendre"),
    ("Quantity", "Quantité"),
    ("Cash", "Comptant"),
    ("Card", "Carte"),
    ("Cash tendered", "Montant reçu"),
    ("Change", "Monnaie à rendre"),
    ("Sync now", "Synchroniser"),
    ("All sales uploaded", "Toutes les ventes sont transmises"),
    (
        "sales waiting to upload",
        "ventes en attente de transmission",
    ),
    ("Offline", "Hors ligne"),
    ("Online", "En ligne"),
    ("Seal for the draw", "Sceller pour le tirage"),
    ("Sealed", "Scellé"),
    ("Printer", "Imprimante"),
    ("Ready", "Prête"),
    ("printer_disconnected", "Imprimante déconnectée"),
    ("paper_out", "Plus de papier"),
    ("cover_open", "Capot ouvert"),
    ("paper_low", "Papier presque épuisé"),
    ("battery_low", "Batterie faible"),
    ("Ticket not printed", "Billet non imprimé"),
    ("Reprint", "Réimprimer"),
    ("Void", "Annuler"),
    ("Supervisor", "Superviseur"),
    ("Supervisor PIN", "NIP du superviseur"),
    ("Locked", "Verrouillé"),
    ("Cash drawer", "Tiroir-caisse"),
    ("Float", "Fonds de caisse"),
    ("Drop", "Dépôt"),
    ("Expected in drawer", "Attendu dans le tiroir"),
    ("Record", "Enregistrer"),
    ("Numbers left", "Numéros restants"),
    ("Software", "Logiciel"),
    ("Language", "Langue"),
    (
        "Sales refused by the server",
        "Ventes refusées par le serveur",
    ),
    ("Selling is stopped", "La vente est arrêtée"),
    ("Payment", "Paiement"),
    ("number", "numéro"),
    ("numbers", "numéros"),
    ("Amount", "Montant"),
    (
        "The server disabled this unit.",
        "Le serveur a désactivé ce terminal.",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_text_is_translated_once() {
        let mut seen = std::collections::HashSet::new();
        for (en, fr) in FRENCH {
            assert!(seen.insert(*en), "{en} twice");
            assert!(!fr.is_empty());
        }
        assert_eq!(Lang::Fr.t("Sell"), "Vendre");
        assert_eq!(Lang::En.t("Sell"), "Sell");
    }
}
